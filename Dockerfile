FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts contracts
COPY router router
COPY workers workers
COPY alertrelay alertrelay
RUN pip install --no-cache-dir .
ENV ALERTRELAY_CONFIG=/etc/alertrelay
ENTRYPOINT ["alertrelay"]
