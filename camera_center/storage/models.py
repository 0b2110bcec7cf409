"""Every table, imported in one place so Alembic and create-time checks see the full schema."""

from camera_center.alerts.models import (
    Alert,
    AlertCountDaily,
    AlertCountHourly,
    AlertEvent,
    AlertHistory,
)
from camera_center.audit.models import AuditEntry
from camera_center.auth.models import LoginAttempt, RefreshToken, User, user_areas
from camera_center.cluster.models import CameraLease, ClusterNode
from camera_center.delivery.models import DeliveryCursor, WebhookDelivery, WebhookSubscription
from camera_center.recording.models import Export, Hold, Segment, Span
from camera_center.registry.models import Area, Camera
from camera_center.rules.models import Rule
from camera_center.storage.base import Base
from camera_center.views.models import SavedView

__all__ = ["Alert", "AlertCountDaily", "AlertCountHourly", "AlertEvent", "AlertHistory",
           "Area", "AuditEntry", "Base", "Camera", "CameraLease", "ClusterNode",
           "DeliveryCursor", "Export", "Hold", "LoginAttempt", "RefreshToken", "Rule",
           "SavedView", "Segment", "Span", "User",
           "WebhookDelivery", "WebhookSubscription", "user_areas"]
