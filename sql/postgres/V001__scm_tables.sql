-- The output tables of SPEC §5, schema scm. Jobs write them as idempotent upserts on
-- the primary keys below; quantities are whole EA, times are UTC (timestamptz).

-- one row per purchase-order line
create table if not exists scm.po_lines (
    po_id                  text        not null,
    po_line                integer     not null,
    supplier_id            text,
    warehouse_id           text,
    sku                    text,
    ordered_qty            bigint,
    promised_delivery_time timestamptz,
    status                 text        check (status in ('OPEN', 'CANCELLED')),
    version                integer,
    shipped_qty            bigint      not null default 0,
    delivered_qty          bigint      not null default 0,
    received_qty           bigint      not null default 0,
    open_qty               bigint      not null default 0,
    fulfillment_status     text        check (fulfillment_status in
                               ('OPEN', 'PARTIALLY_DELIVERED', 'DELIVERED', 'OVER_DELIVERED', 'CANCELLED')),
    last_event_time        timestamptz,
    updated_at             timestamptz not null default now(),
    primary key (po_id, po_line)
);

-- one row per shipment
create table if not exists scm.shipment_status (
    shipment_id            text        primary key,
    po_id                  text,
    po_line                integer,
    sku                    text,
    warehouse_id           text,
    carrier_id             text,
    shipped_qty            bigint,
    status                 text        check (status in ('IN_TRANSIT', 'DELIVERED', 'CANCELLED')),
    match_status           text        check (match_status in
                               ('MATCHED', 'PENDING_PO', 'ORPHAN', 'SKU_MISMATCH', 'PO_CANCELLED')),
    promised_delivery_time timestamptz,
    current_eta            timestamptz,
    delivered_time         timestamptz,
    eta_variance_minutes   bigint,
    eta_severity           text        check (eta_severity in ('NONE', 'MEDIUM', 'HIGH', 'CRITICAL')),
    last_event_time        timestamptz,
    updated_at             timestamptz not null default now()
);

-- one row per (sku, warehouse)
create table if not exists scm.inventory_positions (
    sku             text        not null,
    warehouse_id    text        not null,
    on_hand         bigint      not null,
    on_order        bigint      not null,
    position        bigint      not null,
    last_event_time timestamptz,
    updated_at      timestamptz not null default now(),
    primary key (sku, warehouse_id)
);

-- one row per (sku, warehouse, UTC hour)
create table if not exists scm.inventory_flow_hourly (
    sku            text        not null,
    warehouse_id   text        not null,
    hour_start     timestamptz not null,
    receipts       bigint      not null default 0,
    issues         bigint      not null default 0,
    adjustments    bigint      not null default 0,
    transfers_in   bigint      not null default 0,
    transfers_out  bigint      not null default 0,
    net_change     bigint      not null default 0,
    movement_count bigint      not null default 0,
    primary key (sku, warehouse_id, hour_start)
);

-- one row per alert; alert_id is deterministic (SPEC §5)
create table if not exists scm.alerts (
    alert_id         text        primary key,
    alert_type       text        not null,
    severity         text        not null check (severity in ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    entity_type      text        not null check (entity_type in ('SHIPMENT', 'PO_LINE', 'SKU_LOCATION')),
    entity_id        text        not null,
    event_time       timestamptz,
    detected_at      timestamptz,
    sku              text,
    warehouse_id     text,
    po_id            text,
    po_line          integer,
    shipment_id      text,
    supplier_id      text,
    carrier_id       text,
    trigger_event_id text,
    message          text,
    details          jsonb
);

-- one row per rejected input record; dlq_id = '<topic>:<partition>:<offset>'
create table if not exists scm.dlq_events (
    dlq_id           text        primary key,
    source_topic     text        not null,
    source_partition integer     not null,
    source_offset    bigint      not null,
    source_timestamp bigint,
    key              text,
    value            text,
    value_encoding   text,
    error_code       text        not null check (error_code in
                         ('INVALID_JSON', 'SCHEMA_VIOLATION', 'INVALID_TIMESTAMP', 'INVALID_SKU',
                          'UNKNOWN_UOM', 'NEGATIVE_QUANTITY', 'FRACTIONAL_QUANTITY', 'INVALID_POLICY')),
    error_detail     text,
    detected_at      timestamptz
);
