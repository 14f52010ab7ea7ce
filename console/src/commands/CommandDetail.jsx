import { useState } from 'react';
import { Anchor, Button, Code, Grid, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router';
import { api, get, seg } from '../api.js';
import { formatTime } from '../format.js';
import { ConfirmModal } from '../ui/Confirm.jsx';
import { ErrorAlert, StatusBadge } from '../ui/common.jsx';
import { TERMINAL_COMMAND_STATUSES, WAITING_COMMAND_STATUSES } from './status.js';

const REFRESH_MS = 1000;

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

function CancelCommand({ command, opened, onClose }) {
  const queryClient = useQueryClient();
  const cancel = useMutation({
    mutationFn: () => api('POST', `/commands/${seg(command.executionId)}/cancel`),
    onSuccess: (updated) => {
      queryClient.setQueryData(['command', command.executionId], updated);
      queryClient.invalidateQueries({ queryKey: ['commands'] });
      onClose();
    },
  });
  return (
    <ConfirmModal
      opened={opened}
      onClose={() => {
        cancel.reset();
        onClose();
      }}
      title="Cancel command"
      message={`The command becomes CANCELED; an answer from ${command.thingName} is then refused.`}
      onConfirm={() => cancel.mutate()}
      loading={cancel.isPending}
      error={cancel.error}
    />
  );
}

function DeleteCommand({ command, opened, onClose }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: () => api('DELETE', `/commands/${seg(command.executionId)}`),
    onSuccess: () => {
      queryClient.invalidateQueries({ queryKey: ['commands'] });
      queryClient.removeQueries({ queryKey: ['command', command.executionId] });
      navigate('/commands');
    },
  });
  return (
    <ConfirmModal
      opened={opened}
      onClose={() => {
        remove.reset();
        onClose();
      }}
      title="Delete command"
      message="The command's record is deleted. This cannot be undone."
      onConfirm={() => remove.mutate()}
      loading={remove.isPending}
      error={remove.error}
    />
  );
}

/** A JSON payload shown as code, or a dimmed note when there is none. */
function Payload({ label, value, none }) {
  const empty = value === undefined || value === null || (typeof value === 'object' && Object.keys(value).length === 0);
  return empty ? (
    <Text size="sm" c="dimmed">
      {none}
    </Text>
  ) : (
    <Code block aria-label={label}>
      {JSON.stringify(value, null, 2)}
    </Code>
  );
}

export function CommandDetail() {
  const { executionId } = useParams();
  const [dialog, setDialog] = useState(null);
  const command = useQuery({
    queryKey: ['command', executionId],
    queryFn: () => get(`/commands/${seg(executionId)}`),
    // Refreshes itself until the command reaches a terminal status.
    refetchInterval: (q) => (q.state.data && TERMINAL_COMMAND_STATUSES.has(q.state.data.status) ? false : REFRESH_MS),
  });
  const c = command.data;
  const live = c && !TERMINAL_COMMAND_STATUSES.has(c.status);

  return (
    <Stack>
      <Anchor component={Link} to="/commands" size="sm">
        ← Commands
      </Anchor>
      <ErrorAlert error={command.error} title="Could not load the command" />
      {c && (
        <>
          <Group justify="space-between" wrap="wrap">
            <Group gap="sm">
              <Title order={2}>{c.action}</Title>
              <StatusBadge status={c.status} />
              {live && (
                <Text size="xs" c="dimmed">
                  refreshing every {REFRESH_MS / 1000} s
                </Text>
              )}
            </Group>
            <Group gap="xs">
              {WAITING_COMMAND_STATUSES.has(c.status) && (
                <Button variant="default" onClick={() => setDialog('cancel')}>
                  Cancel Command
                </Button>
              )}
              {TERMINAL_COMMAND_STATUSES.has(c.status) && (
                <Button color="red" variant="light" onClick={() => setDialog('delete')}>
                  Delete
                </Button>
              )}
            </Group>
          </Group>
          <Paper withBorder p="md">
            <Grid>
              <Grid.Col span={{ base: 12, sm: 6, md: 4 }}>
                <Field label="Execution ID">{c.executionId}</Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6, md: 4 }}>
                <Field label="Thing">
                  <Anchor component={Link} to={`/things/${seg(c.thingName)}`} size="sm">
                    {c.thingName}
                  </Anchor>
                </Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6, md: 4 }}>
                <Field label="Action">{c.action}</Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6, md: 4 }}>
                <Field label="Status">{c.status}</Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6, md: 4 }}>
                <Field label="TTL">{`${c.ttl} s`}</Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6, md: 4 }}>
                <Field label="Version">{c.versionNumber}</Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6, md: 3 }}>
                <Field label="Created at">{formatTime(c.createdAt)}</Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6, md: 3 }}>
                <Field label="Last updated at">{formatTime(c.lastUpdatedAt)}</Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6, md: 3 }}>
                <Field label="Completed at">{c.completedAt ? formatTime(c.completedAt) : null}</Field>
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6, md: 3 }}>
                <Field label="Expires at">{formatTime(c.expiresAt)}</Field>
              </Grid.Col>
              {c.statusReason && (
                <Grid.Col span={12}>
                  <Field label="Status reason">
                    {[c.statusReason.reasonCode, c.statusReason.reasonDescription].filter(Boolean).join(': ')}
                  </Field>
                </Grid.Col>
              )}
            </Grid>
          </Paper>
          <Grid>
            <Grid.Col span={{ base: 12, md: 6 }}>
              <Paper withBorder p="md" h="100%">
                <Title order={3} mb="xs">
                  Parameters
                </Title>
                <Payload label="Parameters" value={c.params} none="None: {}" />
              </Paper>
            </Grid.Col>
            <Grid.Col span={{ base: 12, md: 6 }}>
              <Paper withBorder p="md" h="100%">
                <Title order={3} mb="xs">
                  Result
                </Title>
                <Payload
                  label="Result"
                  value={c.result}
                  none={live ? 'Waiting for the device to answer…' : 'The device sent no result.'}
                />
              </Paper>
            </Grid.Col>
          </Grid>
          <CancelCommand command={c} opened={dialog === 'cancel'} onClose={() => setDialog(null)} />
          <DeleteCommand command={c} opened={dialog === 'delete'} onClose={() => setDialog(null)} />
        </>
      )}
    </Stack>
  );
}
