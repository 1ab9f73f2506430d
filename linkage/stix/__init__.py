"""Intel exchange in STIX 2.1: export a run's operators as a bundle, read partners' bundles back as intel.

- ``export``: ``linkage intel export OUT --to bundle.json`` (:func:`linkage.stix.export.export_run`).
- import: ``linkage detect DATA --intel bundle.json`` or ``DATA/intel.stix.json``
  (:mod:`linkage.stix.importer` parses, :mod:`linkage.stix.intake` adds the rows to a batch).
- ``hashing``: account ids, device fingerprints and payment tokens leave only as HMAC-SHA256
  under a sharing-group key read from an environment variable.

Nothing here imports ``stix2`` at module level: ``linkage detect`` without bundles never pays for it.
See ``docs/intel-exchange.md``.
"""
