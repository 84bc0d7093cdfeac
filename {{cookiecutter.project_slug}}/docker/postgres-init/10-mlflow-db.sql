-- The MLflow tracking server's backend store: a second database, "mlflow", on the same
-- PostgreSQL server as the prediction log, owned by the same user (POSTGRES_USER).
--
-- compose.yaml mounts this folder on /docker-entrypoint-initdb.d: the postgres image runs
-- these files only when it initialises an EMPTY data directory, i.e. on the first
-- `docker compose up` with a fresh pgdata volume. With a pgdata volume from before MLflow,
-- create the database once by hand (or start afresh with `docker compose down -v`):
--   docker compose exec postgres sh -c 'createdb -U "$POSTGRES_USER" mlflow'
SELECT 'CREATE DATABASE mlflow'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'mlflow')\gexec
