"""School's role enums as the rule book's words ("admin", "class_head", …): one table for every
service that projects memberships from school's events (media-signal, audit)."""

from __future__ import annotations

from parta.school.v1 import events_pb2 as school_pb2

SCHOOL_ROLES: dict[int, str] = {
    school_pb2.SCHOOL_ROLE_ADMIN: "admin",
    school_pb2.SCHOOL_ROLE_TEACHER: "teacher",
    school_pb2.SCHOOL_ROLE_STUDENT: "student",
    school_pb2.SCHOOL_ROLE_PARENT: "parent",
}
CLASS_ROLES: dict[int, str] = {
    school_pb2.CLASS_ROLE_CLASS_HEAD: "class_head",
    school_pb2.CLASS_ROLE_SUBJECT_TEACHER: "subject_teacher",
    school_pb2.CLASS_ROLE_STUDENT: "student",
    school_pb2.CLASS_ROLE_PARENT: "parent",
    school_pb2.CLASS_ROLE_STAFF: "staff",
}
