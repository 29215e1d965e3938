"""What every route of the app has, whatever the host's DRF settings say: a signed-in caller
(DRF's own default lets anyone in: the app fails closed) and refusals in the app's one JSON shape
(api/errors.py), not the host's exception handler's."""

from rest_framework.permissions import IsAuthenticated

from uploader.api.errors import exception_handler


class AppView:
    """Mixed in before DRF's view class: `class UploadDetailApi(AppView, APIView)`."""

    permission_classes = [IsAuthenticated]

    def get_exception_handler(self):
        return exception_handler
