-- Checkout that ships: the merchant's settings (where goods ship, tax,
-- promotion codes) and shipping rates; products that need no shipping; the
-- shipping options each order offered; and what Stripe computed when the
-- shopper completed its page.
-- Every addition has a default or is nullable: nodes of the previous
-- version keep inserting orders and products during a rolling deploy.

-- The merchant's checkout settings: one row, read by every checkout.
CREATE TABLE shop_settings (
    -- Always true: the table holds exactly one row.
    id                 BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    -- Where goods ship: Stripe's two-letter country codes, in the order the
    -- payment page offers them.
    shipping_countries TEXT[] NOT NULL CHECK (
        cardinality(shipping_countries) BETWEEN 1 AND 250
        AND array_position(shipping_countries, NULL) IS NULL
        -- Stripe's allowed_countries, as in shop_settings::domain::STRIPE_COUNTRIES.
        AND shipping_countries <@ '{
        AC,AD,AE,AF,AG,AI,AL,AM,AO,AQ,AR,AT,AU,AW,AX,AZ,BA,BB,BD,BE,BF,BG,BH,BI,BJ,BL,BM,BN,
        BO,BQ,BR,BS,BT,BV,BW,BY,BZ,CA,CD,CF,CG,CH,CI,CK,CL,CM,CN,CO,CR,CV,CW,CY,CZ,DE,DJ,DK,
        DM,DO,DZ,EC,EE,EG,EH,ER,ES,ET,FI,FJ,FK,FO,FR,GA,GB,GD,GE,GF,GG,GH,GI,GL,GM,GN,GP,GQ,
        GR,GS,GT,GU,GW,GY,HK,HN,HR,HT,HU,ID,IE,IL,IM,IN,IO,IQ,IS,IT,JE,JM,JO,JP,KE,KG,KH,KI,
        KM,KN,KR,KW,KY,KZ,LA,LB,LC,LI,LK,LR,LS,LT,LU,LV,LY,MA,MC,MD,ME,MF,MG,MK,ML,MM,MN,MO,
        MQ,MR,MS,MT,MU,MV,MW,MX,MY,MZ,NA,NC,NE,NG,NI,NL,NO,NP,NR,NU,NZ,OM,PA,PE,PF,PG,PH,PK,
        PL,PM,PN,PR,PS,PT,PY,QA,RE,RO,RS,RU,RW,SA,SB,SC,SE,SG,SH,SI,SJ,SK,SL,SM,SN,SO,SR,SS,
        ST,SV,SX,SZ,TA,TC,TD,TF,TG,TH,TJ,TK,TL,TM,TN,TO,TR,TT,TV,TW,TZ,UA,UG,US,UY,UZ,VA,VC,
        VE,VG,VN,VU,WF,WS,XK,YE,YT,ZA,ZM,ZW,ZZ
        }'::text[]),
    -- Stripe computes and collects tax (automatic_tax).
    automatic_tax      BOOLEAN NOT NULL,
    -- Prices (and shipping rates) include tax; otherwise tax is added.
    prices_include_tax BOOLEAN NOT NULL,
    -- The payment page takes promotion codes.
    promotion_codes    BOOLEAN NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO shop_settings (shipping_countries, automatic_tax, prices_include_tax, promotion_codes)
VALUES ('{US,CA,GB,DE,FR,JP}', false, true, true);

-- Shipping rates, offered in `position` order (Stripe shows at most five).
CREATE TABLE shipping_rates (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    display_name      TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    -- The delivery estimate, in business days; NULL: none shown.
    min_business_days INTEGER CHECK (min_business_days BETWEEN 1 AND 365),
    max_business_days INTEGER CHECK (max_business_days BETWEEN 1 AND 365),
    active            BOOLEAN NOT NULL DEFAULT true,
    position          INTEGER NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (min_business_days <= max_business_days)
);

-- A rate's price in one currency (a rate is offered only in the currencies
-- it has a price in), and the items total from which it is free.
CREATE TABLE shipping_rate_prices (
    shipping_rate_id BIGINT NOT NULL REFERENCES shipping_rates (id) ON DELETE CASCADE,
    currency         TEXT NOT NULL CHECK (currency IN ('USD', 'EUR', 'GBP', 'JPY')),
    amount_minor     BIGINT NOT NULL CHECK (amount_minor BETWEEN 0 AND 99999999),
    free_over_minor  BIGINT CHECK (free_over_minor BETWEEN 0 AND 99999999),
    PRIMARY KEY (shipping_rate_id, currency)
);

WITH standard AS (
    INSERT INTO shipping_rates (display_name, min_business_days, max_business_days, position)
    VALUES ('Standard', 3, 5, 1) RETURNING id
), express AS (
    INSERT INTO shipping_rates (display_name, min_business_days, max_business_days, position)
    VALUES ('Express', 1, 2, 2) RETURNING id
)
INSERT INTO shipping_rate_prices (shipping_rate_id, currency, amount_minor, free_over_minor)
SELECT standard.id, price.* FROM standard, (VALUES
    ('USD', 500, 7500), ('EUR', 500, 7000), ('GBP', 400, 6000), ('JPY', 700, 10000)
) AS price (currency, amount_minor, free_over_minor)
UNION ALL
SELECT express.id, price.* FROM express, (VALUES
    ('USD', 1500, NULL::bigint), ('EUR', 1500, NULL), ('GBP', 1200, NULL), ('JPY', 2000, NULL)
) AS price (currency, amount_minor, free_over_minor);

-- Digital or made-to-order products need no shipping: a cart of only those
-- asks for no address.
ALTER TABLE products ADD COLUMN requires_shipping BOOLEAN NOT NULL DEFAULT true;

ALTER TABLE orders
    -- How its prices were meant, when it was created: the paid check needs
    -- to know whether Stripe's tax came on top.
    ADD COLUMN prices_include_tax BOOLEAN NOT NULL DEFAULT true,
    -- When Stripe reported its session complete: the shopper submitted the
    -- payment (a bank debit may still be processing).
    ADD COLUMN completed_at TIMESTAMPTZ,
    -- What Stripe charged, shipping and tax included (amount_total_minor
    -- stays our items total: the price snapshot Stripe's subtotal must match).
    ADD COLUMN amount_charged_minor BIGINT CHECK (amount_charged_minor >= 0),
    ADD CONSTRAINT orders_charged_when_completed_check
        CHECK (amount_charged_minor IS NULL OR completed_at IS NOT NULL),
    -- Refunds are of what was charged, shipping and tax included.
    DROP CONSTRAINT orders_check,
    ADD CONSTRAINT orders_refund_check
        CHECK (amount_refunded_minor <= COALESCE(amount_charged_minor, amount_total_minor));

-- What Stripe reported when the shopper completed an order's payment page:
-- its figures exactly, in minor units of the order's currency, the
-- promotion code, and where the order ships.
CREATE TABLE order_checkouts (
    order_id              BIGINT PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
    -- The items before discount, inclusive taxes included.
    amount_subtotal_minor BIGINT NOT NULL CHECK (amount_subtotal_minor >= 0),
    amount_discount_minor BIGINT NOT NULL CHECK (amount_discount_minor >= 0),
    -- The chosen shipping rate, before tax.
    amount_shipping_minor BIGINT NOT NULL CHECK (amount_shipping_minor >= 0),
    -- Every tax, inclusive ones included.
    amount_tax_minor      BIGINT NOT NULL CHECK (amount_tax_minor >= 0),
    -- The promotion code the shopper typed, as the merchant created it
    -- (no CHECK here: nothing Stripe reports may keep an order from settling).
    promotion_code        TEXT,
    shipping_name         TEXT,
    shipping_line1        TEXT,
    shipping_line2        TEXT,
    shipping_city         TEXT,
    shipping_state        TEXT,
    shipping_postal_code  TEXT,
    shipping_country      TEXT CHECK (shipping_country ~ '^[A-Z]{2}$'),
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The shipping options an order offered on Stripe's page, as they were
-- then (rates change), and the one the shopper chose.
CREATE TABLE order_shipping_options (
    order_id          BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    -- Its place among the session's shipping_options, from 0.
    position          SMALLINT NOT NULL CHECK (position BETWEEN 0 AND 4),
    shipping_rate_id  BIGINT REFERENCES shipping_rates (id) ON DELETE SET NULL,
    display_name      TEXT NOT NULL,
    amount_minor      BIGINT NOT NULL CHECK (amount_minor >= 0),
    min_business_days INTEGER,
    max_business_days INTEGER,
    chosen            BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (order_id, position)
);
CREATE INDEX order_shipping_options_rate_idx ON order_shipping_options (shipping_rate_id);
CREATE UNIQUE INDEX order_shipping_options_one_chosen_idx ON order_shipping_options (order_id) WHERE chosen;

-- A paid session whose figures do not add up (total ≠ subtotal − discount
-- + shipping + exclusive tax) needs a person too.
ALTER TABLE order_issues DROP CONSTRAINT order_issues_kind_check,
    ADD CONSTRAINT order_issues_kind_check CHECK (kind IN
        ('amount_mismatch', 'totals_mismatch', 'paid_after_close', 'refund_failed'));

-- A checkout payment's lines, as Stripe computed them (NULL for debits and
-- for payments recorded before these columns).
ALTER TABLE payments
    ADD COLUMN amount_subtotal_minor BIGINT CHECK (amount_subtotal_minor >= 0),
    ADD COLUMN amount_discount_minor BIGINT CHECK (amount_discount_minor >= 0),
    ADD COLUMN amount_shipping_minor BIGINT CHECK (amount_shipping_minor >= 0),
    ADD COLUMN amount_tax_minor BIGINT CHECK (amount_tax_minor >= 0),
    ADD CONSTRAINT payments_lines_check CHECK (num_nulls(amount_subtotal_minor,
        amount_discount_minor, amount_shipping_minor, amount_tax_minor) IN (0, 4));
