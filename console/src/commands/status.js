// Command execution statuses (docs/commands.md).

export const COMMAND_STATUSES = ['SENT', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT', 'CANCELED'];

/** Statuses a command never leaves. */
export const TERMINAL_COMMAND_STATUSES = new Set(['SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT', 'CANCELED']);

/** Statuses in which a command can still be canceled. */
export const WAITING_COMMAND_STATUSES = new Set(['SENT', 'IN_PROGRESS']);
