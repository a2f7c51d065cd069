# Production image: gunicorn + whitenoise for web; the same image runs the Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

RUN useradd --system --create-home --uid 10001 muster
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir .
COPY . .
# collectstatic needs production settings (hashed, compressed files) but no real service:
# the placeholders below exist only for this build step.
RUN MUSTER_ENV=production \
    DJANGO_SECRET_KEY=build-only-placeholder-secret-0123456789-abcdefghijklmnopqrstuvwxyz \
    DJANGO_ALLOWED_HOSTS=build.invalid MUSTER_BASE_URL=https://build.invalid \
    DATABASE_URL=postgres://build.invalid/none REDIS_URL=redis://build.invalid:6379/0 EMAIL_HOST=build.invalid \
    MUSTER_MASTER_KEYS=build:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= MUSTER_BLIND_INDEX_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    python manage.py collectstatic --noinput \
    && chown -R muster /app
USER muster

EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--forwarded-allow-ips", "*", "--access-logfile", "-"]
