"""A faithful reimplementation of django-autoslug 1.9.9's AutoSlugField.

Debian does not package django-autoslug, and this field is part of the
format policy registry's models and migrations, so an import-time stand-in
would not do: the column it creates and the slugs it computes must be the
real ones. This module reproduces, for what Archivematica uses:

* the column: a SlugField (varchar, max_length 50 unless given) with an
  index (db_index=True unless given), unique=False when unique_with is given;
* deconstruct(), so the migration autodetector sees the same field as with
  the real package;
* pre_save(): populate from ``populate_from`` (when empty, or always with
  always_update), slugify with Django's slugify over unidecode (the real
  package's default when unidecode is installed, as it is for Archivematica),
  crop to max_length, and make unique (globally or within ``unique_with``)
  by appending -2, -3, ...

Set SCHEMAGEN_AUTOSLUG_LOG to a file name to record every slug pre_save
computes (regenerate.sh does, and reports whether any slug was computed
rather than given).
"""

from .fields import AutoSlugField

__version__ = "1.9.9"
__all__ = ["AutoSlugField"]
