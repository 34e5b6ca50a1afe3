"""`avdetect serve`: a local web page and JSON API that score uploaded files in the worker engine.

    app.py       the Starlette app: routes, typed errors as JSON, the upload page
    jobs.py      one job per upload: its folder, state and result; deleted after a set time
    uploads.py   an upload stored under the job's folder, size-limited, its name never used as a path
    engine.py    the adapter to the scoring worker engine (one background thread, workers started once)
    server.py    uvicorn, in the foreground for the CLI or in a thread for tests and notebooks
"""
