"""The chaos soak's engine (issue 15): consecutive `embedding_reindex` runs, full and incremental, the
source changing before each, one fault of the sandbox's whole fault set in each, every run checked.

    source.py   the source's nights: the data intervals, and the changes made before each run
    faults.py   the fault catalogue (es_sandbox/faults.py's whole set), drawn, armed, disarmed
    moments.py  when a fault bites: at the run's start, when a task starts, in the middle of a reindex
    checks.py   what every run is checked for: the source, the alias, the published documents
    runner.py   one night: change the source, run (and re-run after a failure), check

`bench/soak.py` is the command line (random nights from a seed); `tests/e2e/test_soak.py` runs
scripted nights. Imported as `chaos` from `bench/` and as `bench.chaos` from the repository root.
"""
