"""The other gateway: the routes the official NemoVideo CLI (npm `nemovideo-tools`) calls, over
the same services as the skill routes (server/routes): one implementation, two surfaces.

    CLI route                                         served by
    POST /auth/verify                                 server.auth.identify
    GET  /billing/balance                             server.credits (balance, spent)
    GET  /billing/usage/conversations                 server.credits.settled_holds + session events
    GET/POST /projects, GET /projects/{id}[/sessions] server.session_store (tasks and sessions)
    GET  /api/v1/state/frontend/{project_id}          server.session_store.get_state
    POST /files/upload                                server.routes.uploads (read_multipart, publish)
    WS   /ws/chat?token=&session_id=                  server.turns (the /run_sse turn machinery)
    /services/v1/render-proxy/...                     server.routes.renders' handlers, RenderService

Projects are our tasks: `project_id` = `task_id`, and a project's one session is the task's.
"""

from __future__ import annotations

from fastapi import APIRouter

from server.gateway import accounts, chat_socket, projects, renders

ROUTERS: list[APIRouter] = [accounts.router, projects.router, renders.router, chat_socket.router]
