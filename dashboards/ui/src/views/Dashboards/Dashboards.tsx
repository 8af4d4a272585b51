// The dashboards area (loaded when first opened): the list, a dashboard, a new one, and the
// service overview, by path (lib/dashUrl.ts).

import { decodeRoute } from "../../lib/dashUrl";
import { useLocation } from "../../lib/router";
import { DashboardList } from "./DashboardList";
import { DashboardPage } from "./DashboardPage";
import { ServiceList, ServicePage } from "./ServiceOverview";

export function Dashboards() {
  const loc = useLocation();
  const route = decodeRoute(loc.pathname);
  switch (route.page) {
    case "list": return <DashboardList />;
    case "new": return <DashboardPage key="new" uid={null} />;
    case "dashboard": return <DashboardPage key={route.uid} uid={route.uid} />;
    case "services": return <ServiceList />;
    case "service": return <ServicePage key={route.service} service={route.service} />;
  }
}
