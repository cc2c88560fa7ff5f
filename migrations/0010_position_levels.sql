-- Operators set and move an open position's stop loss and target by
-- command, as they place, modify and exit orders.
ALTER TABLE operator_commands DROP CONSTRAINT operator_commands_command_check;
ALTER TABLE operator_commands ADD CONSTRAINT operator_commands_command_check CHECK (
    command IN ('PLACE_ORDER', 'CANCEL_ORDER', 'MODIFY_ORDER', 'EXIT_POSITION', 'EXIT_ALL',
                'KILL_SWITCH_ON', 'KILL_SWITCH_OFF', 'RESOLVE_RECONCILIATION',
                'PAUSE_STRATEGY', 'RESUME_STRATEGY', 'SET_POSITION_LEVELS'));
