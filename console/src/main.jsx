import '@mantine/core/styles.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { MantineProvider, createTheme } from '@mantine/core';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { BrowserRouter } from 'react-router';
import { App } from './App.jsx';

const theme = createTheme({
  primaryColor: 'indigo',
  // Shade 8: white on it, and it on white, reach WCAG AA contrast.
  primaryShade: { light: 8, dark: 8 },
  defaultRadius: 'sm',
  // No transitions for those who ask their system for less motion.
  respectReducedMotion: true,
});

// Secondary text one shade darker than Mantine's default, for AA contrast.
const cssVariablesResolver = () => ({
  variables: {},
  light: { '--mantine-color-dimmed': 'var(--mantine-color-gray-7)' },
  dark: {},
});

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A wrong token or a missing resource will not fix itself.
      retry: (count, error) => count < 2 && !(error?.status >= 400 && error?.status < 500),
      refetchOnWindowFocus: true,
    },
  },
});

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <MantineProvider theme={theme} cssVariablesResolver={cssVariablesResolver}>
      <QueryClientProvider client={queryClient}>
        <BrowserRouter basename="/console">
          <App />
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
