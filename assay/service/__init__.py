"""The HTTP service (``assay serve``): a thin FastAPI layer over :class:`assay.watch.monitor.Monitor`.

Needs the ``watch`` extra (``pip install 'assay[watch]'``); ``import assay`` never loads it.
"""
