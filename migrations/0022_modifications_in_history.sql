-- Every modification of an order is a line of its status history (status
-- unchanged, with what changed and who asked: "modified by asha: price
-- 1500.00 → 1502.00"), so the order's detail lists each one. The modifying
-- transaction describes the change in the setting xcoin.modification.
CREATE OR REPLACE FUNCTION xcoin_orders_guard()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'PENDING' THEN
            RAISE EXCEPTION 'a new order must start PENDING, not %', NEW.status
                USING ERRCODE = 'check_violation', CONSTRAINT = 'orders_lifecycle';
        END IF;
        NEW.status_history := jsonb_build_array(jsonb_build_object('status', NEW.status, 'at', NEW.created_at));
        RETURN NEW;
    END IF;

    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT xcoin_order_transition_allowed(OLD.status, NEW.status) THEN
            RAISE EXCEPTION 'order % cannot go from % to %', OLD.id, OLD.status, NEW.status
                USING ERRCODE = 'check_violation', CONSTRAINT = 'orders_lifecycle';
        END IF;
        NEW.status_history := OLD.status_history || jsonb_build_array(jsonb_strip_nulls(
            jsonb_build_object('status', NEW.status, 'at', xcoin_now(), 'reason', NEW.status_reason)));
        IF NEW.status = 'SUBMITTED' AND NEW.submitted_at IS NULL THEN
            NEW.submitted_at := xcoin_now();
        END IF;
        IF NEW.status IN ('FILLED', 'CANCELLED', 'REJECTED') AND NEW.completed_at IS NULL THEN
            NEW.completed_at := xcoin_now();
        END IF;
    ELSIF NEW.modifications > OLD.modifications THEN
        -- A modification is a line of the order's history too: what changed
        -- and who asked, as the modifying transaction describes it.
        NEW.status_history := OLD.status_history || jsonb_build_array(jsonb_build_object(
            'status', NEW.status, 'at', xcoin_now(),
            'reason', coalesce(nullif(current_setting('xcoin.modification', true), ''),
                               format('modification %s', NEW.modifications))));
    ELSE
        NEW.status_history := OLD.status_history;
    END IF;

    IF NEW.filled_quantity < OLD.filled_quantity THEN
        RAISE EXCEPTION 'order % filled quantity cannot shrink from % to %', OLD.id, OLD.filled_quantity, NEW.filled_quantity
            USING ERRCODE = 'check_violation', CONSTRAINT = 'orders_fills_only_grow';
    END IF;
    NEW.updated_at := xcoin_now();
    RETURN NEW;
END
$function$;

