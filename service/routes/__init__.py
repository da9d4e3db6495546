"""The API's routers, one module per resource; ``service.app`` includes them in this order."""

from service.routes import (
    assign,
    docs,
    events,
    health,
    loop,
    models,
    offers,
    rank,
    resources,
    slates,
    taxonomy,
)

ROUTERS = (
    health.router,
    rank.router,
    events.router,
    resources.router,
    assign.router,
    models.router,
    taxonomy.router,
    slates.router,
    loop.router,
    offers.router,
    docs.router,
)
