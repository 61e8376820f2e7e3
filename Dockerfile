# auditstream in a container: `auditstream run` (receiver + relay) as an unprivileged user,
# its config, token files and journal on one volume. See README.md, "Running as a service".
#
#   docker build -t auditstream .
#   docker run --rm -v auditstream:/var/lib/auditstream -p 8080:8080 -e SPLUNK_HEC_TOKEN \
#       --stop-timeout 30 auditstream
#
# --stop-timeout 30: on SIGTERM the relay takes up to 10 s to finish what is in hand and save
# its cursors; Docker's default of 10 s would SIGKILL it in the middle.

FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY receiver receiver
COPY journal journal
COPY relay relay
COPY client client
COPY server server
COPY common common
COPY config config
COPY wiring wiring
COPY cli cli
COPY reconcile reconcile
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/auditstream --create-home \
        --shell /usr/sbin/nologin auditstream
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER auditstream
WORKDIR /var/lib/auditstream
# The config file (written here by `destinations create --write-config`), its token files,
# the journal: everything that must outlive the container.
VOLUME ["/var/lib/auditstream"]
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["auditstream"]
CMD ["run", "--config", "/var/lib/auditstream/auditstream.toml"]
