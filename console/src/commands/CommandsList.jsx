import { useState } from 'react';
import { Anchor, Button, Group, NativeSelect, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedCallback } from '@mantine/hooks';
import { Link, useSearchParams } from 'react-router';
import { get, query, seg } from '../api.js';
import { formatTime } from '../format.js';
import { ErrorAlert, Pager, StatusBadge, usePagedQuery } from '../ui/common.jsx';
import { COMMAND_STATUSES } from './status.js';

const PAGE_SIZE = 25;

/** The Commands tab: newest first, filtered by status and thing (kept in the URL). */
export function CommandsList() {
  const [search, setSearch] = useSearchParams();
  const status = search.get('status') ?? '';
  const thingName = search.get('thingName') ?? '';
  const [thingInput, setThingInput] = useState(thingName);
  const setFilter = (name, value) =>
    setSearch(
      (previous) => {
        const next = new URLSearchParams(previous);
        if (value) next.set(name, value);
        else next.delete(name);
        return next;
      },
      { replace: true },
    );
  // The thing filter follows what is typed, once typing pauses.
  const setThingFilter = useDebouncedCallback((value) => setFilter('thingName', value.trim()), 250);
  const commands = usePagedQuery(
    ['commands', { status, thingName }],
    (nextToken) => get(`/commands${query({ status, thingName, limit: PAGE_SIZE, nextToken })}`),
    { refetchInterval: 2000 },
  );
  const rows = commands.data?.commands ?? [];

  return (
    <Stack>
      <Group justify="space-between" wrap="wrap">
        <Title order={2}>Commands</Title>
        <Button component={Link} to="/commands/new">
          + Send Command
        </Button>
      </Group>
      <Group wrap="wrap" align="end">
        <NativeSelect
          label="Status"
          value={status}
          onChange={(e) => setFilter('status', e.currentTarget.value)}
          data={[{ value: '', label: 'All statuses' }, ...COMMAND_STATUSES]}
          w={220}
        />
        <TextInput
          label="Thing name"
          placeholder="Any thing"
          value={thingInput}
          onChange={(e) => {
            setThingInput(e.currentTarget.value);
            setThingFilter(e.currentTarget.value);
          }}
          type="search"
          w={240}
        />
      </Group>
      <ErrorAlert error={commands.error} title="Could not list commands" />
      <Table.ScrollContainer minWidth={720}>
        <Table striped highlightOnHover aria-label="Commands" aria-busy={commands.isFetching}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Execution ID</Table.Th>
              <Table.Th>Things</Table.Th>
              <Table.Th>Action</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Created At</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((command) => (
              <Table.Tr key={command.executionId}>
                <Table.Td>
                  <Anchor
                    component={Link}
                    to={`/commands/${seg(command.executionId)}`}
                    fw={500}
                    ff="monospace"
                    size="sm"
                  >
                    {command.executionId}
                  </Anchor>
                </Table.Td>
                <Table.Td>
                  <Anchor component={Link} to={`/things/${seg(command.thingName)}`} size="sm">
                    {command.thingName}
                  </Anchor>
                </Table.Td>
                <Table.Td>{command.action}</Table.Td>
                <Table.Td>
                  <StatusBadge status={command.status} />
                </Table.Td>
                <Table.Td>{formatTime(command.createdAt)}</Table.Td>
              </Table.Tr>
            ))}
            {!commands.isPending && rows.length === 0 && (
              <Table.Tr>
                <Table.Td colSpan={5}>
                  <Text c="dimmed" ta="center" py="md">
                    {status || thingName
                      ? 'No command matches these filters.'
                      : 'No commands yet: send one with + Send Command.'}
                  </Text>
                </Table.Td>
              </Table.Tr>
            )}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Pager paged={commands} label="Commands" />
    </Stack>
  );
}
