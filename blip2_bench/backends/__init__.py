"""Backend plugins: each public module here is one implementation, named by its file (`impl`).

A module binds `BACKEND` to a `blip2_bench.backend_api.Backend` subclass; modules whose
names start with "_" hold shared helpers. Third-party backends live in any folder listed
in `backend_dirs`, or in an installed package's `blip2_bench.backends` entry point.
"""
