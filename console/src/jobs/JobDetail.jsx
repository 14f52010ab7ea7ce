import { useState } from 'react';
import {
  Anchor,
  Button,
  Checkbox,
  Code,
  Drawer,
  Grid,
  Group,
  NativeSelect,
  Paper,
  Progress,
  SimpleGrid,
  Spoiler,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
  Tooltip,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router';
import { api, get, query, seg } from '../api.js';
import { ACTIVE_JOB_STATUSES, EXECUTION_COUNTERS, EXECUTION_STATUSES, formatTime } from '../format.js';
import { ConfirmModal } from '../ui/Confirm.jsx';
import { ErrorAlert, Pager, StatusBadge, usePagedQuery } from '../ui/common.jsx';

const REFRESH_MS = 2000;
const EXECUTIONS_PAGE = 50;

function Field({ label, children }) {
  return (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      <Text size="sm" component="div" style={{ overflowWrap: 'anywhere' }}>
        {children ?? '—'}
      </Text>
    </div>
  );
}

/** The per-status counters: one stacked bar and a legend with the numbers. */
function Counters({ details }) {
  const counts = EXECUTION_COUNTERS.map((c) => ({ ...c, count: details?.[c.key] ?? 0 }));
  const total = counts.reduce((sum, c) => sum + c.count, 0);
  return (
    <Stack gap="xs">
      <Progress.Root size={22} role="group" aria-label="Executions by status">
        {counts
          .filter((c) => c.count > 0)
          .map((c) => (
            <Tooltip key={c.status} label={`${c.status}: ${c.count}`}>
              <Progress.Section
                value={(c.count / total) * 100}
                color={c.color}
                aria-label={`${c.status}: ${c.count} of ${total}`}
              >
                <Progress.Label>{c.count}</Progress.Label>
              </Progress.Section>
            </Tooltip>
          ))}
      </Progress.Root>
      <Group gap="md" wrap="wrap" component="ul" style={{ listStyle: 'none', padding: 0, margin: 0 }} aria-label="Counters">
        {counts.map((c) => (
          <Group key={c.status} gap={6} component="li" data-status={c.status}>
            <span
              aria-hidden
              style={{
                width: 10,
                height: 10,
                borderRadius: 2,
                background: `var(--mantine-color-${c.color}-filled)`,
                display: 'inline-block',
              }}
            />
            <Text size="sm">
              {c.status} <b>{c.count}</b>
            </Text>
          </Group>
        ))}
        <Text size="sm" c="dimmed" component="li">
          total {total}
        </Text>
      </Group>
    </Stack>
  );
}

/** Whether a job may change by itself: active, or with executions still running. */
function stillChanging(job) {
  if (!job) return false;
  const details = job.jobProcessDetails ?? {};
  return (
    ACTIVE_JOB_STATUSES.has(job.status) ||
    details.numberOfQueuedThings > 0 ||
    details.numberOfInProgressThings > 0
  );
}

function configurationOf(job) {
  const keys = [
    'jobExecutionsRolloutConfig',
    'abortConfig',
    'timeoutConfig',
    'jobExecutionsRetryConfig',
    'schedulingConfig',
  ];
  return Object.fromEntries(keys.filter((k) => job[k] !== undefined).map((k) => [k, job[k]]));
}

/** One execution: status details, version, timestamps. */
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT', 'CANCELED', 'REMOVED']);

/**
 * Cancel or delete one execution, confirmed in place (the drawer stays the
 * only dialog): `action` is 'cancel' or 'delete'.
 */
function ExecutionAction({ execution, action, onDone, onBack }) {
  const [force, setForce] = useState(false);
  const queryClient = useQueryClient();
  const path = `/jobs/${seg(execution.jobId)}/executions/${seg(execution.thingName)}`;
  const run = useMutation({
    mutationFn: () =>
      action === 'cancel'
        ? api('POST', `${path}/cancel`, { force, expectedVersion: execution.versionNumber })
        : api('DELETE', `${path}${query({ executionNumber: execution.executionNumber, force: force ? 'true' : '' })}`),
    onSuccess: () => {
      queryClient.invalidateQueries({ queryKey: ['executions', execution.jobId] });
      queryClient.invalidateQueries({ queryKey: ['execution', execution.jobId] });
      queryClient.invalidateQueries({ queryKey: ['job', execution.jobId] });
      onDone();
    },
  });
  const active = execution.status === 'IN_PROGRESS';
  return (
    <Paper withBorder p="sm" role="group" aria-label={action === 'cancel' ? 'Cancel execution' : 'Delete execution'}>
      <Stack gap="xs">
        <Text size="sm">
          {action === 'cancel'
            ? `Cancel ${execution.thingName}'s execution? The device is told it is no longer pending.`
            : `Delete execution ${execution.executionNumber} of ${execution.thingName}? Its record is removed.`}
        </Text>
        {active && (
          <Checkbox
            label="Force: it is IN_PROGRESS on the device"
            checked={force}
            onChange={(e) => setForce(e.currentTarget.checked)}
          />
        )}
        {run.error && (
          <Text c="red.8" size="sm" role="alert">
            {run.error.message}
          </Text>
        )}
        <Group justify="flex-end" gap="xs">
          <Button variant="default" size="xs" onClick={onBack}>
            Back
          </Button>
          <Button color="red" size="xs" onClick={() => run.mutate()} loading={run.isPending}>
            Confirm
          </Button>
        </Group>
      </Stack>
    </Paper>
  );
}

function ExecutionDrawer({ jobId, thingName, onClose }) {
  const [action, setAction] = useState(null);
  const execution = useQuery({
    queryKey: ['execution', jobId, thingName],
    queryFn: () => get(`/jobs/${seg(jobId)}/executions/${seg(thingName)}`),
    enabled: Boolean(thingName),
    refetchInterval: REFRESH_MS,
  });
  const e = execution.data;
  const close = () => {
    setAction(null);
    onClose();
  };
  return (
    <Drawer
      opened={Boolean(thingName)}
      onClose={close}
      position="right"
      title={`Execution on ${thingName ?? ''}`}
      closeButtonProps={{ 'aria-label': 'Close' }}
    >
      <ErrorAlert error={execution.error} />
      {e && (
        <Stack>
          <Group justify="space-between">
            <StatusBadge status={e.status} />
            <Group gap="xs">
              <Button size="xs" variant="default" disabled={TERMINAL.has(e.status)} onClick={() => setAction('cancel')}>
                Cancel execution
              </Button>
              <Button size="xs" variant="light" color="red" onClick={() => setAction('delete')}>
                Delete execution
              </Button>
            </Group>
          </Group>
          {action && (
            <ExecutionAction
              key={action}
              execution={e}
              action={action}
              onBack={() => setAction(null)}
              onDone={() => (action === 'delete' ? close() : setAction(null))}
            />
          )}
          <SimpleGrid cols={2}>
            <Field label="Thing">
              <Anchor component={Link} to={`/things/${seg(e.thingName)}`}>
                {e.thingName}
              </Anchor>
            </Field>
            <Field label="Execution number">{e.executionNumber}</Field>
            <Field label="Version">{e.versionNumber}</Field>
            <Field label="Retry attempt">{e.retryAttempt}</Field>
            <Field label="Queued at">{formatTime(e.queuedAt)}</Field>
            <Field label="Started at">{formatTime(e.startedAt)}</Field>
            <Field label="Last updated at">{formatTime(e.lastUpdatedAt)}</Field>
            <Field label="Force canceled">{e.forceCanceled ? 'yes' : 'no'}</Field>
          </SimpleGrid>
          <Text size="sm" fw={600}>
            Status details
          </Text>
          {e.statusDetails ? (
            <Table withTableBorder aria-label="Status details">
              <Table.Tbody>
                {Object.entries(e.statusDetails).map(([k, v]) => (
                  <Table.Tr key={k}>
                    <Table.Th>{k}</Table.Th>
                    <Table.Td>{v}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          ) : (
            <Text size="sm" c="dimmed">
              None reported.
            </Text>
          )}
        </Stack>
      )}
    </Drawer>
  );
}

function Executions({ jobId, live }) {
  const [status, setStatus] = useState('');
  const [selected, setSelected] = useState(null);
  const executions = usePagedQuery(
    ['executions', jobId, { status }],
    (nextToken) =>
      get(`/jobs/${seg(jobId)}/executions${query({ status, limit: EXECUTIONS_PAGE, nextToken })}`),
    { refetchInterval: live ? REFRESH_MS : false },
  );
  const rows = executions.data?.executionSummaries ?? [];
  return (
    <Paper withBorder p="md">
      <Stack>
        <Group justify="space-between" align="end" wrap="wrap">
          <Title order={3}>Executions</Title>
          <NativeSelect
            label="Execution status"
            value={status}
            onChange={(e) => setStatus(e.currentTarget.value)}
            data={[{ value: '', label: 'All statuses' }, ...EXECUTION_STATUSES]}
            w={200}
          />
        </Group>
        <ErrorAlert error={executions.error} title="Could not list executions" />
        <Table.ScrollContainer minWidth={560}>
          <Table striped highlightOnHover aria-label="Executions">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Thing</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Execution</Table.Th>
                <Table.Th>Version</Table.Th>
                <Table.Th>Last updated at</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((e) => (
                <Table.Tr key={`${e.thingName}/${e.executionNumber}`}>
                  <Table.Td>
                    <Anchor component="button" type="button" onClick={() => setSelected(e.thingName)}>
                      {e.thingName}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={e.status} />
                  </Table.Td>
                  <Table.Td>{e.executionNumber}</Table.Td>
                  <Table.Td>{e.versionNumber}</Table.Td>
                  <Table.Td>{formatTime(e.lastUpdatedAt)}</Table.Td>
                </Table.Tr>
              ))}
              {!executions.isPending && rows.length === 0 && (
                <Table.Tr>
                  <Table.Td colSpan={5}>
                    <Text c="dimmed" ta="center" py="sm">
                      No executions{status ? ` in ${status}` : ''}.
                    </Text>
                  </Table.Td>
                </Table.Tr>
              )}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
        <Pager paged={executions} label="Executions" />
      </Stack>
      <ExecutionDrawer jobId={jobId} thingName={selected} onClose={() => setSelected(null)} />
    </Paper>
  );
}

function CancelJob({ job, opened, onClose }) {
  const [reasonCode, setReasonCode] = useState('USER_CANCEL');
  const [comment, setComment] = useState('');
  const [force, setForce] = useState(false);
  const queryClient = useQueryClient();
  const cancel = useMutation({
    mutationFn: () =>
      api('POST', `/jobs/${seg(job.jobId)}/cancel`, {
        ...(reasonCode.trim() && { reasonCode: reasonCode.trim() }),
        ...(comment.trim() && { comment: comment.trim() }),
        force,
      }),
    onSuccess: () => {
      queryClient.invalidateQueries({ queryKey: ['job', job.jobId] });
      queryClient.invalidateQueries({ queryKey: ['executions', job.jobId] });
      queryClient.invalidateQueries({ queryKey: ['jobs'] });
      onClose();
    },
  });
  return (
    <ConfirmModal
      opened={opened}
      onClose={onClose}
      title="Cancel job"
      message="Queued executions are canceled; in-progress ones too with Force."
      onConfirm={() => cancel.mutate()}
      loading={cancel.isPending}
      error={cancel.error}
    >
      <TextInput label="Reason code" value={reasonCode} onChange={(e) => setReasonCode(e.currentTarget.value)} />
      <Textarea label="Comment" value={comment} onChange={(e) => setComment(e.currentTarget.value)} autosize minRows={2} />
      <Checkbox
        label="Force: also cancel IN_PROGRESS executions"
        checked={force}
        onChange={(e) => setForce(e.currentTarget.checked)}
      />
    </ConfirmModal>
  );
}

function DeleteJob({ job, opened, onClose }) {
  const active = ACTIVE_JOB_STATUSES.has(job.status);
  const [force, setForce] = useState(false);
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: () => api('DELETE', `/jobs/${seg(job.jobId)}${query({ force: force ? 'true' : '' })}`),
    onSuccess: () => {
      queryClient.invalidateQueries({ queryKey: ['jobs'] });
      navigate('/jobs');
    },
  });
  return (
    <ConfirmModal
      opened={opened}
      onClose={onClose}
      title="Delete job"
      message="The job and every execution record of it are deleted. This cannot be undone."
      onConfirm={() => remove.mutate()}
      loading={remove.isPending}
      error={remove.error}
    >
      {active && (
        <Checkbox
          label="Force: the job is still active"
          checked={force}
          onChange={(e) => setForce(e.currentTarget.checked)}
        />
      )}
    </ConfirmModal>
  );
}

export function JobDetail() {
  const { jobId } = useParams();
  const [dialog, setDialog] = useState(null);
  const job = useQuery({
    queryKey: ['job', jobId],
    queryFn: () => get(`/jobs/${seg(jobId)}`),
    // Refreshes itself while the job or any of its executions still changes.
    refetchInterval: (q) => (stillChanging(q.state.data) ? REFRESH_MS : false),
  });
  const document = useQuery({
    queryKey: ['job', jobId, 'document'],
    queryFn: () => get(`/jobs/${seg(jobId)}/document`),
    enabled: job.isSuccess,
  });
  const j = job.data;
  const live = stillChanging(j);
  const config = j ? configurationOf(j) : {};

  return (
    <Stack>
      <Anchor component={Link} to="/jobs" size="sm">
        ← Jobs
      </Anchor>
      <ErrorAlert error={job.error} title="Could not load the job" />
      {j && (
        <>
          <Group justify="space-between" wrap="wrap">
            <Group gap="sm">
              <Title order={2}>{j.name ?? j.jobId}</Title>
              <StatusBadge status={j.status} />
              {live && (
                <Text size="xs" c="dimmed">
                  refreshing every {REFRESH_MS / 1000} s
                </Text>
              )}
            </Group>
            <Group gap="xs">
              <Button
                variant="default"
                onClick={() => setDialog('cancel')}
                disabled={!['IN_PROGRESS', 'SCHEDULED'].includes(j.status)}
              >
                Cancel Job
              </Button>
              <Button color="red" variant="light" onClick={() => setDialog('delete')} disabled={j.status === 'DELETION_IN_PROGRESS'}>
                Delete
              </Button>
            </Group>
          </Group>
          <Paper withBorder p="md">
            <Grid>
              <Grid.Col span={{ base: 12, sm: 6, md: 4 }}>
                <Field label="Job ID">{j.jobId}</Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6, md: 4 }}>
                <Field label="Name">{j.name}</Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6, md: 4 }}>
                <Field label="Job Type">{j.jobType}</Field>
              </Grid.Col>
              <Grid.Col span={12}>
                <Field label="Description">{j.description}</Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6 }}>
                <Field label="Target things">
                  {j.targets?.thingNames?.length ? (
                    <Spoiler maxHeight={66} showLabel="Show all" hideLabel="Show fewer">
                      {j.targets.thingNames.join(', ')}
                    </Spoiler>
                  ) : null}
                </Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6 }}>
                <Field label="Target groups">{(j.targets?.thingGroupNames ?? []).join(', ') || null}</Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 4 }}>
                <Field label="Created at">{formatTime(j.createdAt)}</Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 4 }}>
                <Field label="Last updated at">{formatTime(j.lastUpdatedAt)}</Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 4 }}>
                <Field label="Completed at">{j.completedAt ? formatTime(j.completedAt) : null}</Field>
              </Grid.Col>
              {(j.reasonCode || j.comment) && (
                <Grid.Col span={12}>
                  <Field label="Canceled">
                    {[j.reasonCode, j.comment, j.forceCanceled ? '(forced)' : null].filter(Boolean).join(' · ')}
                  </Field>
                </Grid.Col>
              )}
            </Grid>
          </Paper>
          <Paper withBorder p="md">
            <Stack gap="xs">
              <Title order={3}>Progress</Title>
              <Counters details={j.jobProcessDetails} />
            </Stack>
          </Paper>
          <Executions jobId={j.jobId} live={live} />
          <Grid>
            <Grid.Col span={{ base: 12, md: 6 }}>
              <Paper withBorder p="md" h="100%">
                <Title order={3} mb="xs">
                  Configuration
                </Title>
                {Object.keys(config).length ? (
                  <Code block aria-label="Configuration">
                    {JSON.stringify(config, null, 2)}
                  </Code>
                ) : (
                  <Text size="sm" c="dimmed">
                    Defaults: no rate limit, abort, timeout, retries or schedule.
                  </Text>
                )}
              </Paper>
            </Grid.Col>
            <Grid.Col span={{ base: 12, md: 6 }}>
              <Paper withBorder p="md" h="100%">
                <Title order={3} mb="xs">
                  Document
                </Title>
                <ErrorAlert error={document.error} />
                {document.data && (
                  <Code block aria-label="Job document">
                    {typeof document.data.document === 'string'
                      ? document.data.document
                      : JSON.stringify(document.data.document, null, 2)}
                  </Code>
                )}
              </Paper>
            </Grid.Col>
          </Grid>
          <CancelJob job={j} opened={dialog === 'cancel'} onClose={() => setDialog(null)} />
          <DeleteJob job={j} opened={dialog === 'delete'} onClose={() => setDialog(null)} />
        </>
      )}
    </Stack>
  );
}
