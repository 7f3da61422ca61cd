"""Web plumbing shared by the issuer and merchant services (aiohttp, SQLModel).

``certs`` stays pure; everything that touches HTTP, databases, logging or processes for
both services lives here, one concept per module.
"""
