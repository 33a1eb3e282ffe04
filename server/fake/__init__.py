"""The integration-test fake (fake mode): seeded ids and clock, fault injection, a request journal.

Everything fake-only lives in this package and is mounted by create_app only when
`settings.mode == "fake"`; normal mode never imports it. This module stays import-free because the
render child process imports `server.fake.render` and should not pay for the rest.
"""
