import { useState } from 'react';
import { Anchor, Button, Paper, Stack, Table, Text, TextInput, Title, VisuallyHidden } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, get, query, seg } from '../api.js';
import { formatTime } from '../format.js';
import { ConfirmModal } from './Confirm.jsx';
import { ErrorAlert, Pager, usePagedQuery } from './common.jsx';

const PAGE_SIZE = 25;

/**
 * A registry list (things or thing groups): search by name prefix, create,
 * delete with confirmation, paged. `kind` says which.
 */
export function RegistryList({ kind, createForm }) {
  const [search, setSearch] = useState('');
  const [prefix] = useDebouncedValue(search.trim(), 250);
  const [deleting, setDeleting] = useState(null);
  const queryClient = useQueryClient();
  const list = usePagedQuery([kind.path, { prefix }], (nextToken) =>
    get(`${kind.path}${query({ namePrefix: prefix, limit: PAGE_SIZE, nextToken })}`),
  );
  const rows = list.data?.[kind.listKey] ?? [];
  const remove = useMutation({
    mutationFn: (name) => api('DELETE', `${kind.path}/${seg(name)}`),
    onSuccess: () => {
      queryClient.invalidateQueries({ queryKey: [kind.path] });
      setDeleting(null);
    },
  });

  return (
    <Stack>
      <Title order={2}>{kind.title}</Title>
      {createForm}
      <Paper withBorder p="md">
        <Stack>
          <TextInput
            label={`Search ${kind.title.toLowerCase()}`}
            description="Names starting with"
            value={search}
            onChange={(e) => setSearch(e.currentTarget.value)}
            maw={360}
            type="search"
          />
          <ErrorAlert error={list.error} />
          <Table.ScrollContainer minWidth={480}>
            <Table striped highlightOnHover aria-label={kind.title}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  {kind.columns.map((c) => (
                    <Table.Th key={c.label}>{c.label}</Table.Th>
                  ))}
                  <Table.Th>Created At</Table.Th>
                  <Table.Th>
                    <VisuallyHidden>Actions</VisuallyHidden>
                  </Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {rows.map((item) => {
                  const name = item[kind.nameKey];
                  return (
                    <Table.Tr key={name}>
                      <Table.Td>
                        <Anchor component={Link} to={`/${kind.route}/${seg(name)}`}>
                          {name}
                        </Anchor>
                      </Table.Td>
                      {kind.columns.map((c) => (
                        <Table.Td key={c.label}>{c.render(item)}</Table.Td>
                      ))}
                      <Table.Td>{formatTime(item.createdAt)}</Table.Td>
                      <Table.Td>
                        <Button
                          size="xs"
                          color="red"
                          variant="subtle"
                          aria-label={`Delete ${name}`}
                          onClick={() => {
                            remove.reset();
                            setDeleting(name);
                          }}
                        >
                          Delete
                        </Button>
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
                {!list.isPending && rows.length === 0 && (
                  <Table.Tr>
                    <Table.Td colSpan={kind.columns.length + 3}>
                      <Text c="dimmed" ta="center" py="sm">
                        {prefix ? `Nothing starts with “${prefix}”.` : `No ${kind.title.toLowerCase()} yet.`}
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                )}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Pager paged={list} label={kind.title} />
        </Stack>
      </Paper>
      <ConfirmModal
        opened={deleting !== null}
        onClose={() => setDeleting(null)}
        title={`Delete ${deleting ?? ''}`}
        message={kind.deleteMessage}
        onConfirm={() => remove.mutate(deleting)}
        loading={remove.isPending}
        error={remove.error}
      />
    </Stack>
  );
}

