"""``paramscope zoo``: inventory, safety and shared tensors of many model files, on Dask distributed.

    walk.py     paths and fsspec URLs → one item per model file, shards grouped into models
    task.py     one file → one row: format, family, parameters, bytes by type, safety, tensor hashes
    run.py      the items as tasks on a Dask cluster; rows to Parquet as they arrive; resume
    store.py    the Parquet dataset: schema, parts written whole, what is already done
    summary.py  the table → totals, unsafe files, duplicate tensors, same-model and same-base groups

Dask, pyarrow and fsspec are the ``zoo`` extra; the application function is ``app/zoo.py``.
"""
