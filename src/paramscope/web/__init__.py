"""The local web page (`paramscope serve`) and the self-contained HTML report (`paramscope report`).

Needs the ``web`` extra (FastAPI, uvicorn) for ``serve`` only; ``report`` uses the standard library.
The page renders what the API returns, and the API returns exactly what the CLI's ``--json`` does.
"""
