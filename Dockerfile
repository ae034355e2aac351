# One image for the five services; the Deployment picks the module:
#   docker run --read-only --tmpfs /tmp interlocality interlocality.profiles
#
# The base image and uv are pinned. Dependencies are installed from the lock alone
# (uv.lock and the root pyproject.toml) in a layer of their own, so a change of the source
# rebuilds only the last layer. The root filesystem may be read-only: nothing is written
# but under /tmp (an emptyDir in the manifests), where INTERLOCALITY_VAR_DIR points.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-workspace
COPY contracts contracts
COPY libs libs
COPY services services
COPY tools tools
RUN uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 interlocality \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin interlocality
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    INTERLOCALITY_HOST=0.0.0.0 \
    INTERLOCALITY_VAR_DIR=/tmp/interlocality
USER 10001
ENTRYPOINT ["python", "-m"]
CMD ["interlocality.profiles"]
