# The Storage Service includes these URLs whatever its settings say.
urlpatterns = []
