import { useState } from 'react';
import { Alert, Anchor, Button, Code, CopyButton, Group, NativeSelect, Paper, Stack, Table, TagsInput, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { api, get, query, seg } from '../api.js';
import { EXECUTION_STATUSES, formatTime } from '../format.js';
import { ConfirmModal } from '../ui/Confirm.jsx';
import { attributeEntries, parseAttributes } from '../ui/attributes.js';
import { ErrorAlert, Pager, StatusBadge, usePagedQuery } from '../ui/common.jsx';

/** The success title in the text colour: teal on its pale teal falls short of AA contrast. */
const SUCCESS_TITLE = { label: { color: 'var(--mantine-color-text)' } };

/** Replaces a thing's attributes (UpdateThing, checked against the version shown). */
function EditAttributes({ thing }) {
  const [entries, setEntries] = useState(() => attributeEntries(thing.attributes));
  const queryClient = useQueryClient();
  const parsed = parseAttributes(entries);
  const save = useMutation({
    mutationFn: () =>
      api('PATCH', `/things/${seg(thing.thingName)}`, {
        attributes: parsed.attributes,
        expectedVersion: thing.version,
      }),
    onSuccess: (updated) => {
      queryClient.setQueryData(['/things', thing.thingName], updated);
      queryClient.invalidateQueries({ queryKey: ['/things'] });
    },
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        if (!parsed.error) save.mutate();
      }}
    >
      <Group align="flex-end" wrap="wrap" mt="sm">
        <TagsInput
          label="Attributes"
          description="key=value, Enter after each"
          value={entries}
          onChange={setEntries}
          error={parsed.error ?? save.error?.message}
          w={360}
        />
        <Button type="submit" variant="default" loading={save.isPending}>
          Save attributes
        </Button>
      </Group>
    </form>
  );
}

/** A thing: its attributes, a new device token, and its executions. */
export function ThingDetail() {
  const { thingName } = useParams();
  const [status, setStatus] = useState('');
  const [rotating, setRotating] = useState(false);
  const thing = useQuery({ queryKey: ['/things', thingName], queryFn: () => get(`/things/${seg(thingName)}`) });
  const executions = usePagedQuery(['thing-executions', thingName, { status }], (nextToken) =>
    get(`/things/${seg(thingName)}/executions${query({ status, limit: 50, nextToken })}`),
    { refetchInterval: 5000 },
  );
  const groups = usePagedQuery(['/thing-groups', 'of', thingName], (nextToken) =>
    get(`/things/${seg(thingName)}/thing-groups${query({ limit: 50, nextToken })}`),
  );
  const rotate = useMutation({
    mutationFn: () => api('POST', `/things/${seg(thingName)}/token`),
    onSuccess: () => setRotating(false),
  });
  const rows = executions.data?.executionSummaries ?? [];
  return (
    <Stack>
      <Anchor component={Link} to="/things" size="sm">
        ← Things
      </Anchor>
      <ErrorAlert error={thing.error} title="Could not load the thing" />
      {thing.data && (
        <Paper withBorder p="md">
          <Group justify="space-between" wrap="wrap">
            <Stack gap={2}>
              <Title order={2}>{thing.data.thingName}</Title>
              <Text size="sm" c="dimmed">
                Registered {formatTime(thing.data.createdAt)} · version {thing.data.version}
              </Text>
              <Text size="sm">
                Attributes: {attributeEntries(thing.data.attributes).join(', ') || 'none'}
              </Text>
            </Stack>
            <Button variant="default" onClick={() => setRotating(true)}>
              New device token
            </Button>
          </Group>
          <EditAttributes key={thing.data.version} thing={thing.data} />
          {rotate.data && (
            <Alert color="teal" styles={SUCCESS_TITLE} mt="md" title="New device token, shown this once" role="status">
              <Group gap="xs" wrap="nowrap">
                <Code style={{ overflowWrap: 'anywhere' }}>{rotate.data.deviceToken}</Code>
                <CopyButton value={rotate.data.deviceToken}>
                  {({ copied, copy }) => (
                    <Button size="xs" variant="light" onClick={copy}>
                      {copied ? 'Copied' : 'Copy'}
                    </Button>
                  )}
                </CopyButton>
              </Group>
            </Alert>
          )}
        </Paper>
      )}
      <Paper withBorder p="md">
        <Stack gap="xs">
          <Title order={3}>Groups</Title>
          <ErrorAlert error={groups.error} />
          {groups.data && (
            <Group gap="xs" component="ul" aria-label="Groups of this thing" style={{ listStyle: 'none', padding: 0, margin: 0 }}>
              {groups.data.thingGroupNames.map((name) => (
                <li key={name}>
                  <Anchor component={Link} to={`/thing-groups/${seg(name)}`}>
                    {name}
                  </Anchor>
                </li>
              ))}
              {groups.data.thingGroupNames.length === 0 && (
                <Text size="sm" c="dimmed" component="li">
                  In no group (add it from a group&apos;s page).
                </Text>
              )}
            </Group>
          )}
          {(groups.hasNext || groups.hasPrevious) && <Pager paged={groups} label="Groups" />}
        </Stack>
      </Paper>
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
          <ErrorAlert error={executions.error} />
          <Table.ScrollContainer minWidth={480}>
            <Table striped aria-label="Executions of this thing">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Job</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th>Execution</Table.Th>
                  <Table.Th>Last updated at</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {rows.map((e) => (
                  <Table.Tr key={`${e.jobId}/${e.executionNumber}`}>
                    <Table.Td>
                      <Anchor component={Link} to={`/jobs/${seg(e.jobId)}`}>
                        {e.jobId}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>
                      <StatusBadge status={e.status} />
                    </Table.Td>
                    <Table.Td>{e.executionNumber}</Table.Td>
                    <Table.Td>{formatTime(e.lastUpdatedAt)}</Table.Td>
                  </Table.Tr>
                ))}
                {!executions.isPending && rows.length === 0 && (
                  <Table.Tr>
                    <Table.Td colSpan={4}>
                      <Text c="dimmed" ta="center" py="sm">
                        No executions.
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                )}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Pager paged={executions} label="Executions" />
        </Stack>
      </Paper>
      <ConfirmModal
        opened={rotating}
        onClose={() => setRotating(false)}
        title="New device token"
        message="The device's current token stops working at once and it is disconnected."
        onConfirm={() => rotate.mutate()}
        loading={rotate.isPending}
        error={rotate.error}
      />
    </Stack>
  );
}
