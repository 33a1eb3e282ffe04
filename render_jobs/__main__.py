"""`python -m render_jobs`: the standalone render worker (cli.py)."""

from render_jobs.cli import main

main()
