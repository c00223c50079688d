import json
import os

from django.db.models.fields import SlugField

from . import utils
from .settings import slugify

SLUG_INDEX_SEPARATOR = "-"


class AutoSlugField(SlugField):
    def __init__(self, *args, **kwargs):
        kwargs["max_length"] = kwargs.get("max_length", 50)
        self.populate_from = kwargs.pop("populate_from", None)
        if self.populate_from:
            kwargs.setdefault("editable", False)
        self.unique_with = kwargs.pop("unique_with", ())
        if isinstance(self.unique_with, str):
            self.unique_with = (self.unique_with,)
        self.slugify = kwargs.pop("slugify", slugify)
        self.index_sep = kwargs.pop("sep", SLUG_INDEX_SEPARATOR)
        if self.unique_with:
            kwargs["unique"] = False
        kwargs.setdefault("db_index", True)
        self.allow_unicode = kwargs.pop("allow_unicode", False)
        self.manager = kwargs.pop("manager", None)
        self.manager_name = kwargs.pop("manager_name", None)
        self.always_update = kwargs.pop("always_update", False)
        # Like the real field: skip SlugField.__init__, call Field.__init__.
        super(SlugField, self).__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.max_length == 50:
            kwargs.pop("max_length", None)
        if self.populate_from is not None:
            kwargs["populate_from"] = self.populate_from
            if self.editable is not False:
                kwargs["editable"] = self.editable
        if self.unique_with != ():
            kwargs["unique_with"] = self.unique_with
            kwargs.pop("unique", None)
        if self.slugify != slugify:
            kwargs["slugify"] = self.slugify
        if self.index_sep != SLUG_INDEX_SEPARATOR:
            kwargs["sep"] = self.index_sep
        kwargs.pop("db_index", None)
        if self.manager_name is not None:
            kwargs["manager_name"] = self.manager_name
        if self.always_update:
            kwargs["always_update"] = self.always_update
        kwargs.pop("manager", None)
        return name, path, args, kwargs

    def pre_save(self, instance, add):
        before = value = self.value_from_object(instance)
        if self.manager is not None:
            manager = self.manager
        elif self.manager_name is not None:
            manager = getattr(self.model, self.manager_name)
        else:
            manager = None
        if self.always_update or (self.populate_from and not value):
            value = utils.get_prepopulated_value(self, instance)
        slug = self.slugify(value) if value else None
        if not slug:
            slug = None
            if not self.blank:
                slug = instance._meta.model_name
            elif not self.null:
                slug = ""
        if slug:
            slug = self.slugify(utils.crop_slug(self, slug))
            if self.unique or self.unique_with:
                slug = utils.generate_unique_slug(self, instance, slug, manager)
        setattr(instance, self.name, slug)
        _record(instance, self, before, slug)
        return slug


def _record(instance, field, before, after):
    path = os.environ.get("SCHEMAGEN_AUTOSLUG_LOG")
    if not path:
        return
    with open(path, "a") as f:
        f.write(
            json.dumps(
                {
                    "model": instance._meta.label,
                    "pk": str(instance.pk),
                    "field": field.name,
                    "before": before,
                    "after": after,
                }
            )
            + "\n"
        )
