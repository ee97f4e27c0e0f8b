"""Demo data and the local servers that serve it.

Everything here is deterministic (seeded, with a fixed reference date) and reaches the lakehouse
only through the real connectors: local servers speak the real protocols (Odoo's JSON-RPC,
GitHub's REST API) over generated data, so `ipai up` exercises the same code paths as production
and no bronze, silver or gold row is written by a shortcut. The same servers, with injected
faults, are what the connector tests run against.

    erp_data      a year of two companies' bookkeeping and projects, in Odoo's record shapes
    odoo_server   Odoo 17's JSON-RPC (`/jsonrpc`) over that data, with fault injection
"""
