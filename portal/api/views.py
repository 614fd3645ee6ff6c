from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import permissions


class MeOutputSerializer(serializers.Serializer[object]):
    username = serializers.CharField()
    name = serializers.CharField()
    email = serializers.EmailField()
    isAdmin = serializers.BooleanField()


class MeApi(APIView):
    """Who the token or session belongs to: a quick way to check that automation is authenticated."""

    @extend_schema(responses=MeOutputSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        data = {
            "username": user.get_username(),
            "name": user.get_full_name() if hasattr(user, "get_full_name") else "",
            "email": getattr(user, "email", ""),
            "isAdmin": permissions.is_admin(user),
        }
        return Response(MeOutputSerializer(data).data)
