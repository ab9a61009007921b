"""The web side of psad: JSON API, dashboard, ticket proxy, metrics, health."""
