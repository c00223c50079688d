# The dashboard connects receivers to this signal at import time.
from django.dispatch import Signal

cas_user_authenticated = Signal()
cas_user_logout = Signal()
