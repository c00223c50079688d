import datetime

from django.core.exceptions import FieldDoesNotExist
from django.db.models import ForeignKey
from django.db.models.fields import DateField
from django.template.defaultfilters import slugify as django_slugify
from django.utils.timezone import is_aware
from django.utils.timezone import localtime

try:
    from unidecode import unidecode
except ImportError:  # as the real package: Django's slugify alone
    slugify = django_slugify
else:

    def slugify(value):
        return django_slugify(unidecode(value))


def get_prepopulated_value(field, instance):
    if callable(field.populate_from):
        return field.populate_from(instance)
    attr = getattr(instance, field.populate_from)
    return callable(attr) and attr() or attr


def crop_slug(field, slug):
    return slug[: field.max_length] if field.max_length < len(slug) else slug


def get_uniqueness_lookups(field, instance, unique_with):
    for lookup_name in unique_with:
        field_name, _, inner = lookup_name.partition("__")
        try:
            other = instance._meta.get_field(field_name)
        except FieldDoesNotExist:
            raise ValueError(
                f"Could not find attribute {instance._meta.object_name}.{field_name} "
                f"referenced by {instance._meta.object_name}.{field.name}"
            )
        if other == field:
            raise ValueError(f"{field_name} references itself in unique_with")
        value = getattr(instance, field_name)
        if not value:
            if other.blank:
                if isinstance(other, ForeignKey):
                    yield f"{field_name}__isnull", True
                break
            raise ValueError(
                f"Could not check uniqueness of {instance._meta.object_name}.{field.name} "
                f"with respect to {field_name} because the latter is empty"
            )
        if isinstance(value, datetime.datetime) and is_aware(value):
            value = localtime(value)
        if isinstance(other, DateField):
            parts = ["year", "month", "day"]
            inner = inner or "day"
            if inner not in parts:
                raise ValueError(f"bad date lookup {lookup_name!r} in unique_with")
            for part in parts[: parts.index(inner) + 1]:
                yield f"{field_name}__{part}", getattr(value, part)
        elif inner:
            if not hasattr(value, "_meta"):
                raise ValueError(f"Could not resolve lookup {lookup_name!r}")
            for _name, inner_value in get_uniqueness_lookups(field, value, [inner]):
                yield lookup_name, inner_value
        else:
            yield field_name, value


def generate_unique_slug(field, instance, slug, manager):
    original = slug = crop_slug(field, slug)
    base_lookups = tuple(get_uniqueness_lookups(field, instance, field.unique_with))
    manager = manager or field.model._default_manager
    index = 1
    while True:
        rivals = manager.filter(**dict(base_lookups, **{field.name: slug}))
        if instance.pk:
            rivals = rivals.exclude(pk=instance.pk)
        if not rivals:
            return slug
        index += 1
        tail = len(field.index_sep) + len(str(index))
        if field.max_length < len(original) + tail:
            original = original[: field.max_length - tail]
        slug = f"{original}{field.index_sep}{index}"
