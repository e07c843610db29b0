"""Provider, Project, Complaint, Appeal, Rulebook and Entity aggregates: pure decisions, no I/O."""
from ledger.aggregates.base import DomainError, aggregate_id
from ledger.aggregates.complaint import Appeal, Complaint
from ledger.aggregates.entity import Entity, entity_key
from ledger.aggregates.project import Project
from ledger.aggregates.provider import Provider
from ledger.aggregates.rulebook import Rulebook

__all__ = ["Appeal", "Complaint", "DomainError", "Entity", "Project", "Provider", "Rulebook", "aggregate_id", "entity_key"]
