"""Portal test data: users, administrators and API tokens."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from portal.models import ApiToken, hash_token


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("correct horse battery staple")


class AdminFactory(UserFactory):
    is_staff = True
    is_superuser = True


class ApiTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiToken

    class Params:
        raw = factory.Sequence(lambda n: f"pvd_test-token-{n:08d}")

    user = factory.SubFactory(UserFactory)
    name = "test token"
    prefix = factory.LazyAttribute(lambda t: t.raw[:10])
    key_hash = factory.LazyAttribute(lambda t: hash_token(t.raw))
