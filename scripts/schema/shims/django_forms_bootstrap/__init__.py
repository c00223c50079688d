# In the dashboard's INSTALLED_APPS; the real app has only template tags and
# templates (no models, no migrations). An empty app satisfies the registry.
