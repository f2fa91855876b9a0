"""soraflow: the domain library (requests, provider clients, polling policy, pricing, blob store).

Nothing here imports `azure.functions`; importing any module does no network, credential or setting work.
"""
