// Shared labels and formatting.

export const JOB_STATUSES = ['SCHEDULED', 'IN_PROGRESS', 'COMPLETED', 'CANCELED', 'DELETION_IN_PROGRESS'];
export const JOB_TYPES = ['SNAPSHOT', 'CONTINUOUS'];
export const EXECUTION_STATUSES = [
  'QUEUED',
  'IN_PROGRESS',
  'SUCCEEDED',
  'FAILED',
  'REJECTED',
  'TIMED_OUT',
  'CANCELED',
  'REMOVED',
];

/** Execution status → its `jobProcessDetails` counter and colour. */
export const EXECUTION_COUNTERS = [
  { status: 'QUEUED', key: 'numberOfQueuedThings', color: 'gray' },
  { status: 'IN_PROGRESS', key: 'numberOfInProgressThings', color: 'blue' },
  { status: 'SUCCEEDED', key: 'numberOfSucceededThings', color: 'teal' },
  { status: 'FAILED', key: 'numberOfFailedThings', color: 'red' },
  { status: 'REJECTED', key: 'numberOfRejectedThings', color: 'orange' },
  { status: 'TIMED_OUT', key: 'numberOfTimedOutThings', color: 'grape' },
  { status: 'CANCELED', key: 'numberOfCanceledThings', color: 'yellow' },
  { status: 'REMOVED', key: 'numberOfRemovedThings', color: 'pink' },
];

const STATUS_COLORS = {
  SCHEDULED: 'cyan',
  IN_PROGRESS: 'blue',
  COMPLETED: 'teal',
  CANCELED: 'yellow',
  DELETION_IN_PROGRESS: 'gray',
  ...Object.fromEntries(EXECUTION_COUNTERS.map((c) => [c.status, c.color])),
};

export const statusColor = (status) => STATUS_COLORS[status] ?? 'gray';

/** Statuses in which a job still changes by itself. */
export const ACTIVE_JOB_STATUSES = new Set(['SCHEDULED', 'IN_PROGRESS', 'DELETION_IN_PROGRESS']);

const dateTime = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'medium',
  timeStyle: 'medium',
});

export function formatTime(rfc3339) {
  if (!rfc3339) return '—';
  const date = new Date(rfc3339);
  return Number.isNaN(date.getTime()) ? rfc3339 : dateTime.format(date);
}
