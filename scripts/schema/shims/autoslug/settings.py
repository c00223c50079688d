from django.conf import settings
from django.urls import get_callable

slugify = get_callable(
    getattr(settings, "AUTOSLUG_SLUGIFY_FUNCTION", "autoslug.utils.slugify")
)
