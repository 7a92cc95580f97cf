"""GET /media/status as a Django view on gunicorn, over mediagate's own jobs
table: the stack this kind of service is usually seeded with, for
bench/status.sh DJANGO=1. The same query, the same body and Cache-Control;
a persistent connection per worker (CONN_MAX_AGE=None), no middleware."""
import hashlib
import json
import os

from django.conf import settings

settings.configure(
    DEBUG=False, ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"], SECRET_KEY="bench-only",
    MIDDLEWARE=[], INSTALLED_APPS=[], USE_TZ=True,
    DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "mediagate",
                           "HOST": os.environ["PGHOST"], "USER": "mediagate", "CONN_MAX_AGE": None}},
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402



def answer(obj, status=200, cache="no-store"):
    body = json.dumps(obj, separators=(",", ":"))
    r = HttpResponse(body, status=status, content_type="application/json; charset=utf-8")
    r["Cache-Control"] = cache
    if status == 200:
        r["ETag"] = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    return r


def status(request):
    job_id = request.GET.get("job_id")
    if job_id is None:
        return answer({"success": False, "message": "Not found parameter job_id."}, 400)
    with connection.cursor() as c:
        c.execute("SELECT status, progress_rate, duration_ms, width_px, height_px, output_path, "
                  "playlists, error_code, error_message FROM jobs WHERE id = %s", [job_id])
        row = c.fetchone()
    if row is None:
        return answer({"success": False, "message": "Not found item."}, 422)
    st, rate, dur, w, h, out, playlists, code, msg = row
    if isinstance(playlists, str):  # a json (not jsonb) column comes as text
        playlists = json.loads(playlists)
    o = {"success": True, "job_status": st, "progress_rate": rate}
    if st == "COMPLETE":
        o.update(duration_ms=dur, width_px=w, height_px=h, output_path=out, playlists=playlists or {})
    elif st == "ERROR":
        o.update(error_code=code, error_message=msg)
    return answer(o, cache="public, max-age=0, s-maxage=1")


urlpatterns = [path("media/status", status)]
application = get_wsgi_application()
