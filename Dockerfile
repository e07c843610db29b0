FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ledger ./ledger
COPY api ./api
COPY consumers ./consumers
COPY contracts ./contracts
RUN pip install --no-cache-dir .
ENTRYPOINT ["ledger"]
CMD ["--help"]
