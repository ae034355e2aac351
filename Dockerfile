# One image for the five services; the Deployment picks the module:
#   docker run interlocality interlocality.profiles
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY contracts contracts
COPY libs libs
COPY services services
COPY tools tools
RUN uv sync --frozen --no-dev --no-editable --compile-bytecode

FROM python:3.11-slim
RUN groupadd --gid 10001 interlocality \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin interlocality
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    INTERLOCALITY_HOST=0.0.0.0
USER 10001
ENTRYPOINT ["python", "-m"]
CMD ["interlocality.profiles"]
