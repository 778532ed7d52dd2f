"""The worker's web views: health and metrics, the JSON API and the dashboard."""
