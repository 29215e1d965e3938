"""The site's sign-in API: a JWT pair for a username and password, its refresh, and logout
(simplejwt, its refresh tokens blacklisted). The upload app needs none of it: it takes whatever
authentication the host's DRF settings name."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from uploader.api.schema import errors
from uploader.api.throttles import TokenAddressThrottle, TokenUsernameThrottle


class ExternalJWTScheme(OpenApiAuthenticationExtension):
    target_class = "config.site.auth.ExternalJWTAuthentication"
    name = "externalJWT"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (RS256, from JWT_ISSUER)"}


_TOKEN_PAIR = inline_serializer("TokenPair", {"access": serializers.CharField(), "refresh": serializers.CharField()})


@extend_schema_view(
    post=extend_schema(summary="Log in: a JWT pair", responses={200: _TOKEN_PAIR, **errors(400, 401, 429)})
)
class TokenObtainApi(jwt_views.TokenObtainPairView):
    throttle_classes = [TokenAddressThrottle, TokenUsernameThrottle]


@extend_schema_view(
    post=extend_schema(
        summary="A fresh access token; the refresh token rotates", responses={200: _TOKEN_PAIR, **errors(400, 401, 429)}
    )
)
class TokenRefreshApi(jwt_views.TokenRefreshView):
    throttle_classes = [TokenAddressThrottle]


class LogoutInput(serializers.Serializer):
    refresh = serializers.CharField()


class LogoutApi(APIView):
    """Ends a refresh token (and so the session of the device holding it). Needs no access token:
    it may have expired, and the refresh token is proof enough."""

    authentication_classes = []
    permission_classes = []
    throttle_classes = [TokenAddressThrottle]

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'  # a bad token is a 401, as at the token endpoints (DRF says 403 otherwise)

    @extend_schema(
        summary="Log out: the refresh token can no longer be used",
        request=LogoutInput,
        responses={204: None, **errors(400, 401, 429)},
    )
    def post(self, request):
        data = LogoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            RefreshToken(data.validated_data["refresh"]).blacklist()
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from None
        return Response(status=status.HTTP_204_NO_CONTENT)
