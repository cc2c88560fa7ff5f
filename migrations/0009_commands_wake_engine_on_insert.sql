-- The engine wakes on new commands only: claiming and finishing a command
-- are the engine's own updates, and they no longer wake it. Consoles still
-- follow command results on xcoin_changes.
DROP TRIGGER operator_commands_notify_engine ON operator_commands;
CREATE TRIGGER operator_commands_notify_engine AFTER INSERT ON operator_commands
    FOR EACH ROW EXECUTE FUNCTION xcoin_notify_change('xcoin_commands');
