import { useState } from 'react';
import { Anchor, Autocomplete, Button, Group, Paper, Stack, Table, Text, Title, VisuallyHidden } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { api, get, query, seg } from '../api.js';
import { formatTime } from '../format.js';
import { ConfirmModal } from '../ui/Confirm.jsx';
import { ErrorAlert, Pager, usePagedQuery } from '../ui/common.jsx';

/** A thing group: its members, adding and removing things. */
export function ThingGroupDetail() {
  const { groupName } = useParams();
  const [adding, setAdding] = useState('');
  const [removing, setRemoving] = useState(null);
  const [prefix] = useDebouncedValue(adding.trim(), 200);
  const queryClient = useQueryClient();
  const group = useQuery({
    queryKey: ['/thing-groups', groupName],
    queryFn: () => get(`/thing-groups/${seg(groupName)}`),
  });
  const members = usePagedQuery(['members', groupName], (nextToken) =>
    get(`/thing-groups/${seg(groupName)}/things${query({ limit: 50, nextToken })}`),
  );
  const suggestions = useQuery({
    queryKey: ['/things', 'names', prefix],
    queryFn: () => get(`/things${query({ namePrefix: prefix, limit: 20 })}`),
    select: (data) => data.things.map((t) => t.thingName),
    placeholderData: keepPreviousData,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['members', groupName] });
  const add = useMutation({
    mutationFn: (thing) => api('PUT', `/thing-groups/${seg(groupName)}/things/${seg(thing)}`),
    onSuccess: () => {
      setAdding('');
      refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (thing) => api('DELETE', `/thing-groups/${seg(groupName)}/things/${seg(thing)}`),
    onSuccess: () => {
      setRemoving(null);
      refresh();
    },
  });
  const rows = members.data?.thingNames ?? [];

  return (
    <Stack>
      <Anchor component={Link} to="/thing-groups" size="sm">
        ← Thing Groups
      </Anchor>
      <ErrorAlert error={group.error} title="Could not load the group" />
      {group.data && (
        <Paper withBorder p="md">
          <Title order={2}>{group.data.thingGroupName}</Title>
          <Text size="sm" c="dimmed">
            {group.data.description ?? 'No description'} · created {formatTime(group.data.createdAt)}
          </Text>
        </Paper>
      )}
      <Paper withBorder p="md">
        <Stack>
          <Title order={3}>Members</Title>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              if (adding.trim()) add.mutate(adding.trim());
            }}
          >
            <Group align="start" wrap="wrap">
              <Autocomplete
                label="Add a thing"
                value={adding}
                onChange={setAdding}
                data={suggestions.data ?? []}
                error={add.error?.message}
                w={320}
              />
              <Button type="submit" mt={24} loading={add.isPending} disabled={!adding.trim()}>
                Add to group
              </Button>
            </Group>
          </form>
          <Table striped aria-label="Members">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Thing</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((name) => (
                <Table.Tr key={name}>
                  <Table.Td>
                    <Anchor component={Link} to={`/things/${seg(name)}`}>
                      {name}
                    </Anchor>
                  </Table.Td>
                  <Table.Td ta="right">
                    <Button size="xs" variant="subtle" color="red" onClick={() => setRemoving(name)} aria-label={`Remove ${name}`}>
                      Remove
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
              {!members.isPending && rows.length === 0 && (
                <Table.Tr>
                  <Table.Td colSpan={2}>
                    <Text c="dimmed" ta="center" py="sm">
                      No members.
                    </Text>
                  </Table.Td>
                </Table.Tr>
              )}
            </Table.Tbody>
          </Table>
          <ErrorAlert error={members.error} />
          <Pager paged={members} label="Members" />
        </Stack>
      </Paper>
      <ConfirmModal
        opened={removing !== null}
        onClose={() => setRemoving(null)}
        title={`Remove ${removing ?? ''} from the group`}
        message="The thing stays registered; continuous jobs of this group stop for it."
        onConfirm={() => remove.mutate(removing)}
        loading={remove.isPending}
        error={remove.error}
      />
    </Stack>
  );
}
