import { Anchor, Button, Group, NativeSelect, Select, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { get, query } from '../api.js';
import { formatTime, JOB_STATUSES, JOB_TYPES } from '../format.js';
import { ErrorAlert, Pager, StatusBadge, usePagedQuery } from '../ui/common.jsx';

const PAGE_SIZE = 25;

function Targets({ targets }) {
  const things = targets?.numberOfThings ?? 0;
  const groups = targets?.thingGroupNames ?? [];
  return (
    <Text size="sm">
      {things} {things === 1 ? 'thing' : 'things'}
      {groups.length > 0 && (
        <Text span c="dimmed" size="sm">
          {' · '}
          {groups.join(', ')}
        </Text>
      )}
    </Text>
  );
}

/** The Jobs tab: newest first, filtered by status and type (kept in the URL). */
export function JobsList() {
  const [search, setSearch] = useSearchParams();
  const status = search.get('status') ?? '';
  const jobType = search.get('jobType') ?? '';
  const thingGroupName = search.get('thingGroupName') ?? '';
  const groups = useQuery({
    queryKey: ['/thing-groups', 'names', ''],
    queryFn: () => get(`/thing-groups${query({ limit: 250 })}`),
    select: (data) => data.thingGroups.map((g) => g.thingGroupName),
    staleTime: 10_000,
  });
  const setFilter = (name, value) => {
    const next = new URLSearchParams(search);
    if (value) next.set(name, value);
    else next.delete(name);
    setSearch(next, { replace: true });
  };
  const jobs = usePagedQuery(
    ['jobs', { status, jobType, thingGroupName }],
    (nextToken) => get(`/jobs${query({ status, jobType, thingGroupName, limit: PAGE_SIZE, nextToken })}`),
    { refetchInterval: 5000 },
  );
  const rows = jobs.data?.jobs ?? [];

  return (
    <Stack>
      <Group justify="space-between" wrap="wrap">
        <Title order={2}>Jobs</Title>
        <Button component={Link} to="/jobs/new">
          + Create Job
        </Button>
      </Group>
      <Group wrap="wrap" align="end">
        <NativeSelect
          label="Status"
          value={status}
          onChange={(e) => setFilter('status', e.currentTarget.value)}
          data={[{ value: '', label: 'All statuses' }, ...JOB_STATUSES]}
          w={220}
        />
        <NativeSelect
          label="Job Type"
          value={jobType}
          onChange={(e) => setFilter('jobType', e.currentTarget.value)}
          data={[{ value: '', label: 'All types' }, ...JOB_TYPES]}
          w={180}
        />
        <Select
          label="Thing Group"
          placeholder="Any group"
          value={thingGroupName || null}
          onChange={(value) => setFilter('thingGroupName', value ?? '')}
          data={[...new Set([...(groups.data ?? []), ...(thingGroupName ? [thingGroupName] : [])])]}
          searchable
          clearable
          nothingFoundMessage="No thing group by that name"
          w={240}
        />
      </Group>
      <ErrorAlert error={jobs.error} title="Could not list jobs" />
      <Table.ScrollContainer minWidth={720}>
        <Table striped highlightOnHover aria-label="Jobs" aria-busy={jobs.isFetching}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Job Type</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Targets</Table.Th>
              <Table.Th>Created At</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((job) => (
              <Table.Tr key={job.jobId}>
                <Table.Td>
                  <Anchor component={Link} to={`/jobs/${encodeURIComponent(job.jobId)}`} fw={500}>
                    {job.name ?? job.jobId}
                  </Anchor>
                  {job.name && (
                    <Text size="xs" c="dimmed">
                      {job.jobId}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>{job.jobType}</Table.Td>
                <Table.Td>
                  <StatusBadge status={job.status} />
                </Table.Td>
                <Table.Td>
                  <Targets targets={job.targets} />
                </Table.Td>
                <Table.Td>{formatTime(job.createdAt)}</Table.Td>
              </Table.Tr>
            ))}
            {!jobs.isPending && rows.length === 0 && (
              <Table.Tr>
                <Table.Td colSpan={5}>
                  <Text c="dimmed" ta="center" py="md">
                    {status || jobType || thingGroupName ? 'No job matches these filters.' : 'No jobs yet: create one with + Create Job.'}
                  </Text>
                </Table.Td>
              </Table.Tr>
            )}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Pager paged={jobs} label="Jobs" />
    </Stack>
  );
}
